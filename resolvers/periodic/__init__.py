"""periodicTasks, periodicTask, runPeriodicTaskNow, setPeriodicTaskEnabled."""
