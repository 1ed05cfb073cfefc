"""What every gRPC server and client of metallb-grpc shares at run time.

The server skeleton (health, reflection, metrics, graceful stop), the error-mapping interceptor,
the state-owning task, the watch mechanism and instance ids, client channels and the service
command's flags. It sits above `metallb_rules` and below the services and the gateway.
"""
