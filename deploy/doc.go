// Package deploy holds how regiond is deployed: the Kubernetes manifests in kubernetes/ (the
// Dockerfile is at the repository root). It has no code; its test checks the manifests and the
// Dockerfile against regiond itself — its flags, its probes, its go.mod.
package deploy
