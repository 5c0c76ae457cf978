// Package cfence is the C side of a measurement: a seqlock reader's copy
// done in C, where the acquire fence that Go cannot spell exists. Package
// seqlock's benchmarks compare it with the pure-Go reader; the production
// reader does not use it (see the seqlock package doc for the numbers).
package cfence
