"""Alert delivery: notifications of raised and resolved alerts to webhooks, Slack-compatible
hooks and Alertmanager, through a durable outbox, by the delivery leader (see deliverer.py)."""
