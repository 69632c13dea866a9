package migrate

// Interleave is interleave, for the tests.
var Interleave = interleave

// Batches is batches, for the tests.
var Batches = batches
