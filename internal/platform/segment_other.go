//go:build !linux && !darwin && !windows

package platform

import (
	"errors"
	"os"
)

// No shared-memory path exists for this OS yet.

const implementation = "unsupported"

// Create returns errors.ErrUnsupported.
func Create(string, int64, uint32, bool, bool) (*Mapping, error) { return nil, errors.ErrUnsupported }

// Open returns errors.ErrUnsupported.
func Open(string, bool, bool) (*Mapping, error) { return nil, errors.ErrUnsupported }

// Remove returns errors.ErrUnsupported.
func Remove(string) error { return errors.ErrUnsupported }

// MapFile returns errors.ErrUnsupported.
func MapFile(*os.File, int64, bool) (*Mapping, error) { return nil, errors.ErrUnsupported }

// Dir returns "": there are no named objects here.
func Dir() string { return "" }
