package platform

// reserveFile is fallocate(2), as for a named object.
func reserveFile(fd int, size int64) error { return reserve(fd, size) }
