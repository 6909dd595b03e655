package domxml

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
)

// qemu-guest.xml is `virsh dumpxml` of the test bed's QEMU guest.
func TestParseQEMUGuest(t *testing.T) {
	doc, err := os.ReadFile("testdata/qemu-guest.xml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	if d.UUID != "5b6f8a8e-7c1d-4e0a-9f3b-0000000000b1" || d.Name != "vmmon-bed-guest" {
		t.Errorf("uuid %q name %q", d.UUID, d.Name)
	}
	if !reflect.DeepEqual(d.Disks, []string{"vda"}) || !reflect.DeepEqual(d.NICs, []string{"tapbed0"}) {
		t.Errorf("disks %v nics %v", d.Disks, d.NICs)
	}
	n := d.Nova
	if n == nil {
		t.Fatal("no Nova metadata")
	}
	want := agentmsg.Flavor{Name: "m1.bed", VCPUs: 1, MemoryMB: 128, DiskGB: 1}
	if n.Name != "bed-guest" || n.Flavor != want || n.UserName != "demo-member" || n.ProjectName != "demo" ||
		n.ProjectID == "" || n.UserID == "" || n.RootType != "image" || n.Package != "26.2.2" || n.Namespace != NovaNS11 {
		t.Errorf("nova = %+v", n)
	}
	if len(n.Ports) != 1 || !reflect.DeepEqual(n.Ports[0].IPs, []string{"fe80::1"}) {
		t.Errorf("ports = %+v", n.Ports)
	}
}

func TestParseNamespaces(t *testing.T) {
	dom := func(meta string) string {
		return `<domain type='kvm'><name>instance-00000001</name><uuid>u</uuid><metadata>` + meta +
			`</metadata><devices><disk type='file' device='cdrom'><target dev='hdc'/></disk>` +
			`<disk type='network' device='disk'><target dev='sda'/></disk></devices></domain>`
	}
	v10 := `<nova:instance xmlns:nova="` + NovaNS10 + `"><nova:name>old</nova:name>` +
		`<nova:owner><nova:project uuid="p10">x</nova:project></nova:owner></nova:instance>`
	v11 := `<nova:instance xmlns:nova="` + NovaNS11 + `"><nova:name>new</nova:name></nova:instance>`
	other := `<app:thing xmlns:app="http://example.org/app"><app:name>nope</app:name></app:thing>`
	cases := []struct {
		meta, name, ns string
	}{
		{v10, "old", NovaNS10},
		{v11 + v10, "new", NovaNS11},
		{v10 + v11, "new", NovaNS11},
		{other, "", ""},
		{"", "", ""},
	}
	for _, c := range cases {
		d, err := Parse(dom(c.meta))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d.Disks, []string{"sda"}) {
			t.Errorf("disks %v; the cdrom is not sampled", d.Disks)
		}
		if c.name == "" {
			if d.Nova != nil {
				t.Errorf("%q: metadata %+v; want none", c.meta, d.Nova)
			}
			continue
		}
		if d.Nova == nil || d.Nova.Name != c.name || d.Nova.Namespace != c.ns {
			t.Errorf("%q: got %+v", c.meta, d.Nova)
		}
	}
	if _, err := Parse("<domain><name>x</nam"); err == nil || !strings.Contains(err.Error(), "domxml") {
		t.Errorf("broken XML: %v", err)
	}
}
