module github.com/redis-gitops/redis-gitops

go 1.26.0
