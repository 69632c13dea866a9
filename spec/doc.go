// Package spec holds the RedisCluster types users declare in Git: strict
// parsing with file:line:col errors, defaults, validation and the JSON Schema.
package spec
