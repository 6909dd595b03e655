// Package version holds vmmon's release version, set at build time with
// -ldflags "-X opendev.org/openstack/vmmon/vmmon/version.Version=...".
package version

// Version is the release of this build.
var Version = "0.1.0.dev"
