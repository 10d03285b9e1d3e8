module github.com/dify-gcp/dify-gcp

go 1.26.6
