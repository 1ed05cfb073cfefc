"""The machine's load beside the figures: this 2-core machine is shared and noisy, so every
figure is read with the load average it was measured under (`name value unit` like the rest)."""

import os


def print_load(when: str) -> None:
    one, five, _ = os.getloadavg()
    print(f"machine_load_average_1min_{when} {one:.2f} load", flush=True)
    print(f"machine_load_average_5min_{when} {five:.2f} load", flush=True)
