package shm

// PollThreadsForTest returns the number of poller threads started so far.
func PollThreadsForTest() int { return pollThreads() }
