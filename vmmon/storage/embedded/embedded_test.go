package embedded

import (
	"testing"

	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := Open(t.TempDir(), storage.Retention{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
