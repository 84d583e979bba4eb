"""taskEvents and workerEvents."""
