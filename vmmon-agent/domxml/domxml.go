// Package domxml reads what vmmon-agent needs from a libvirt domain's XML: its
// devices (disk and interface targets, the names bulk statistics use) and
// Nova's <nova:instance> metadata, in the 1.1 namespace or the older 1.0.
package domxml

import (
	"encoding/xml"
	"fmt"
	"strings"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
)

// Nova's metadata namespaces, newest first.
const (
	NovaNS11 = "http://openstack.org/xmlns/libvirt/nova/1.1"
	NovaNS10 = "http://openstack.org/xmlns/libvirt/nova/1.0"
)

// Domain is the part of a domain's XML the agent uses.
type Domain struct {
	UUID  string
	Name  string
	Disks []string // target devices, e.g. vda
	NICs  []string // target devices, e.g. tap0123abcd-ef
	Nova  *agentmsg.Nova
}

type xmlDomain struct {
	UUID     string `xml:"uuid"`
	Name     string `xml:"name"`
	Metadata struct {
		Inner []xmlNova `xml:",any"`
	} `xml:"metadata"`
	Devices struct {
		Disks []struct {
			Device string `xml:"device,attr"`
			Target struct {
				Dev string `xml:"dev,attr"`
			} `xml:"target"`
		} `xml:"disk"`
		Interfaces []struct {
			Target struct {
				Dev string `xml:"dev,attr"`
			} `xml:"target"`
		} `xml:"interface"`
	} `xml:"devices"`
}

type xmlNova struct {
	XMLName xml.Name
	Package struct {
		Version string `xml:"version,attr"`
	} `xml:"package"`
	Name         string `xml:"name"`
	CreationTime string `xml:"creationTime"`
	Flavor       struct {
		Name      string `xml:"name,attr"`
		Memory    int    `xml:"memory"`
		Disk      int    `xml:"disk"`
		Swap      int    `xml:"swap"`
		Ephemeral int    `xml:"ephemeral"`
		VCPUs     int    `xml:"vcpus"`
	} `xml:"flavor"`
	Owner struct {
		User struct {
			UUID string `xml:"uuid,attr"`
			Name string `xml:",chardata"`
		} `xml:"user"`
		Project struct {
			UUID string `xml:"uuid,attr"`
			Name string `xml:",chardata"`
		} `xml:"project"`
	} `xml:"owner"`
	Root struct {
		Type string `xml:"type,attr"`
		UUID string `xml:"uuid,attr"`
	} `xml:"root"`
	Ports struct {
		Port []struct {
			UUID string `xml:"uuid,attr"`
			IP   []struct {
				Address string `xml:"address,attr"`
			} `xml:"ip"`
		} `xml:"port"`
	} `xml:"ports"`
}

// Parse reads a domain's XML.
func Parse(doc string) (*Domain, error) {
	var x xmlDomain
	if err := xml.Unmarshal([]byte(doc), &x); err != nil {
		return nil, fmt.Errorf("domxml: %w", err)
	}
	d := &Domain{UUID: x.UUID, Name: x.Name}
	for _, disk := range x.Devices.Disks {
		if disk.Target.Dev != "" && (disk.Device == "" || disk.Device == "disk") {
			d.Disks = append(d.Disks, disk.Target.Dev)
		}
	}
	for _, nic := range x.Devices.Interfaces {
		if nic.Target.Dev != "" {
			d.NICs = append(d.NICs, nic.Target.Dev)
		}
	}
	// Prefer the 1.1 namespace when a domain carries both.
	for _, ns := range []string{NovaNS11, NovaNS10} {
		for _, n := range x.Metadata.Inner {
			if n.XMLName.Space == ns && n.XMLName.Local == "instance" {
				d.Nova = convert(&n)
				break
			}
		}
		if d.Nova != nil {
			break
		}
	}
	return d, nil
}

func convert(n *xmlNova) *agentmsg.Nova {
	out := &agentmsg.Nova{
		Name:        strings.TrimSpace(n.Name),
		ProjectID:   n.Owner.Project.UUID,
		ProjectName: strings.TrimSpace(n.Owner.Project.Name),
		UserID:      n.Owner.User.UUID,
		UserName:    strings.TrimSpace(n.Owner.User.Name),
		Flavor: agentmsg.Flavor{
			Name: n.Flavor.Name, VCPUs: n.Flavor.VCPUs, MemoryMB: n.Flavor.Memory,
			DiskGB: n.Flavor.Disk, SwapMB: n.Flavor.Swap, Ephemeral: n.Flavor.Ephemeral,
		},
		RootType:  n.Root.Type,
		RootID:    n.Root.UUID,
		Created:   strings.TrimSpace(n.CreationTime),
		Package:   n.Package.Version,
		Namespace: n.XMLName.Space,
	}
	for _, p := range n.Ports.Port {
		port := agentmsg.Port{ID: p.UUID}
		for _, ip := range p.IP {
			port.IPs = append(port.IPs, ip.Address)
		}
		out.Ports = append(out.Ports, port)
	}
	return out
}
