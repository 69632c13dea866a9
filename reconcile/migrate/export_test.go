package migrate

// Batches is batches, for the tests.
var Batches = batches
