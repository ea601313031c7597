"""What an operator watches: Prometheus metrics (``metrics``), queue depth for
autoscalers (``queues``), OpenTelemetry traces (``tracing``) and health (``health``)."""
