"""System types: status, information, configuration, the collector's report."""
