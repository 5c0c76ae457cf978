package main

// inUseNote ends rm's refusal of an object in use. A Windows mapping's name
// lasts while any process has it open, so nothing can take it from its
// holders: shm.Remove only closes this process's handles.
const inUseNote = "it stays (on Windows a name lasts while any process has it open, so --force cannot remove it either)"
