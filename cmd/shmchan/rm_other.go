//go:build !windows

package main

// inUseNote ends rm's refusal of an object in use: unlinking the name
// leaves the holders their mapping, but peers that open it later miss it.
const inUseNote = "it stays (--force removes it: the holders keep their mapping, and peers that open the name later will not find it)"
