// Package interop checks that a C program using the C API in shm/c
// (shmchan.h) and a Go program using package shm behave, on the two ends of
// one channel, exactly as two Go programs would.
//
// Everything is in its tests, which build the C side with cc into a
// temporary directory and run it as a child process:
//
//   - message streams both ways (a million messages of random sizes, each
//     with a sequence number and a checksum), in block and spin mode;
//   - mailboxes both ways (a C writer with Go readers and the reverse, every
//     value derived from its version with a checksum: none torn, versions
//     only increasing, EOF on close), writer death and takeover, and the
//     wake latency of a reader parked on the other language's wait word;
//   - close and peer death both ways;
//   - channels created by one language and opened by the other, and version
//     or magic mismatches refused by both;
//   - the C unit tests (also under -fsanitize=address,undefined) and the C++
//     compile check of the header;
//   - the layout cross-check: the offsets that shmchan.h spells (exported by
//     the cgo file layout_cgo.go as COffsets) against internal/layout;
//   - conformance (issue 12): golden images, the byte images of one script
//     run by Go and by testdata/golden.c, identical to each other and to
//     testdata/golden/*.img (TestGoldenImages; a change is a layout change,
//     see testdata/golden/README.md; `go test ./shm/c/interop -run
//     'Golden|Corpus' -update` rewrites them); each language reading the
//     other's images from real shared-memory objects (TestGoldenCrossRead);
//     the shared corruption corpus of testdata/corpus/MANIFEST, read by Go
//     and by golden.c under ASan and UBSan (TestCorpus); and the wait
//     schedule shmchan.c is compiled with against docs/design.md's table
//     (TestWaitTableC);
//   - benchmarks of Go->C and Go->Go round trips and throughput.
//
// The tests skip, saying why, where no C compiler is installed; .ci/run
// installs gcc. With SHMCHAN_C_PEER set they run that prebuilt C peer
// instead of building one: .ci/windows.sh builds it with mingw-w64 and runs
// these tests under Wine, with the Go side built for Windows.
package interop
