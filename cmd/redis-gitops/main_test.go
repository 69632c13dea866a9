package main

import (
	"os"
	"testing"

	"github.com/redis-gitops/redis-gitops/internal/giteatest"
)

// TestMain stops the Gitea that plan --comment's test starts.
func TestMain(m *testing.M) { os.Exit(giteatest.Main(m.Run)) }
