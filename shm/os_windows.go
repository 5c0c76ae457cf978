package shm

const osName = "windows"
