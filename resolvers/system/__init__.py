"""systemStatus, systemInfo, systemConfiguration, updateSystemConfig."""
