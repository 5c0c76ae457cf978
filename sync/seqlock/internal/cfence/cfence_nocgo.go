//go:build !cgo

package cfence

// Available reports whether Copy works in this build (it needs cgo).
const Available = false

// Copy panics: there is no C compiler in this build.
func Copy(dst, src []byte, seq *uint64) uint64 {
	panic("cfence: built without cgo")
}
