"""Developer tools (not installed): code generation checks."""
