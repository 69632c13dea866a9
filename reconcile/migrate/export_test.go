package migrate

// Interleave is interleave, for the tests.
var Interleave = interleave
