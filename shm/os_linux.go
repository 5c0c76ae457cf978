package shm

const osName = "linux"
