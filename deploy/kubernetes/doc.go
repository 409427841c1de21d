// Package kubernetes holds the manifests that deploy a private checkpoint on Kubernetes (a
// StatefulSet of lookout-agent, its headless Service and a kustomization) and, in its tests, the
// checks that keep them true to the agent: every flag they pass exists in the built binary, every
// file a flag names sits on the volume meant for it, the pod runs unprivileged, and the image is the
// one deploy/docker builds. The same tests check the docker-compose file and the systemd unit.
//
// It holds no code the programs link, and it must never hold a token or a certificate: the
// kustomization reads both from files an operator puts beside it, which git ignores.
package kubernetes
