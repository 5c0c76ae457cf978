package shm

const osName = "darwin"
