package collector

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// novaObject is Nova's versioned-object wrapper.
type novaObject struct {
	Name    string          `json:"nova_object.name"`
	Version string          `json:"nova_object.version"`
	Data    json.RawMessage `json:"nova_object.data"`
}

// instancePayload holds the fields of Nova's InstancePayload (and its action,
// create, rebuild, ... children) that vmmon keeps.
type instancePayload struct {
	UUID        string       `json:"uuid"`
	TenantID    string       `json:"tenant_id"`
	UserID      string       `json:"user_id"`
	DisplayName string       `json:"display_name"`
	Host        *string      `json:"host"`
	Node        *string      `json:"node"`
	State       string       `json:"state"`
	PowerState  string       `json:"power_state"`
	TaskState   *string      `json:"task_state"`
	ImageUUID   string       `json:"image_uuid"`
	CreatedAt   *string      `json:"created_at"`
	LaunchedAt  *string      `json:"launched_at"`
	DeletedAt   *string      `json:"deleted_at"`
	Flavor      *novaObject  `json:"flavor"`
	IPAddresses []novaObject `json:"ip_addresses"`
	Fault       *novaObject  `json:"fault"`
	ActionUser  string       `json:"action_initiator_user"`
}

type flavorPayload struct {
	Name     string `json:"name"`
	VCPUs    int    `json:"vcpus"`
	MemoryMB int    `json:"memory_mb"`
	RootGB   int    `json:"root_gb"`
}

type ipPayload struct {
	Address string `json:"address"`
}

type faultPayload struct {
	Exception string `json:"exception"`
	Message   string `json:"exception_message"`
}

// legacyPayload is the flat payload of the unversioned compute.instance.* notifications.
type legacyPayload struct {
	InstanceID   string  `json:"instance_id"`
	TenantID     string  `json:"tenant_id"`
	UserID       string  `json:"user_id"`
	DisplayName  string  `json:"display_name"`
	Host         *string `json:"host"`
	Node         *string `json:"node"`
	State        string  `json:"state"`
	StateDesc    string  `json:"state_description"`
	InstanceType string  `json:"instance_type"`
	MemoryMB     int     `json:"memory_mb"`
	VCPUs        int     `json:"vcpus"`
	RootGB       int     `json:"root_gb"`
	ImageRef     string  `json:"image_ref_url"`
	CreatedAt    string  `json:"created_at"`
	LaunchedAt   string  `json:"launched_at"`
	DeletedAt    string  `json:"deleted_at"`
	FixedIPs     []struct {
		Address string `json:"address"`
	} `json:"fixed_ips"`
	Message string `json:"message"`
}

// novaUpdate is what one Nova notification says of an instance.
type novaUpdate struct {
	inst  storage.Instance
	event storage.Event
	// globalRequestID is the id the caller (vmmon-api) gave the request.
	globalRequestID string
}

func parseTime(s *string) *time.Time {
	if s == nil || *s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02 15:04:05.999999", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, strings.TrimSuffix(*s, "+00:00")); err == nil {
			t = t.UTC()
			return &t
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// errIgnore marks a notification that is not about an instance.
var errIgnore = fmt.Errorf("not an instance notification")

// parseNova reads an instance.* (versioned) or compute.instance.* (legacy)
// notification. Other event types give errIgnore; a payload of another shape
// an error. What it reads is validated afterwards (validNova).
func parseNova(m *messaging.Message) (novaUpdate, error) {
	var u novaUpdate
	switch {
	case strings.HasPrefix(m.EventType, "instance."):
		var obj novaObject
		if err := json.Unmarshal(m.Payload, &obj); err != nil || obj.Data == nil {
			return u, fmt.Errorf("%s: payload is not a Nova versioned object", m.EventType)
		}
		var p instancePayload
		if err := json.Unmarshal(obj.Data, &p); err != nil {
			return u, fmt.Errorf("%s %s %s: %w", m.EventType, obj.Name, obj.Version, err)
		}
		u.inst = storage.Instance{ID: p.UUID, ProjectID: p.TenantID, UserID: p.UserID, Name: p.DisplayName,
			Host: deref(p.Host), Node: deref(p.Node), State: p.State, PowerState: p.PowerState, TaskState: deref(p.TaskState),
			ImageID: p.ImageUUID, CreatedAt: parseTime(p.CreatedAt), LaunchedAt: parseTime(p.LaunchedAt), DeletedAt: parseTime(p.DeletedAt)}
		if p.Flavor != nil {
			var f flavorPayload
			if json.Unmarshal(p.Flavor.Data, &f) == nil {
				u.inst.FlavorName, u.inst.FlavorVCPUs, u.inst.FlavorMemoryMB, u.inst.FlavorDiskGB = f.Name, f.VCPUs, f.MemoryMB, f.RootGB
			}
		}
		u.inst.IPs = []string{}
		for _, ip := range p.IPAddresses {
			var a ipPayload
			if json.Unmarshal(ip.Data, &a) == nil && a.Address != "" {
				u.inst.IPs = append(u.inst.IPs, a.Address)
			}
		}
		if p.Fault != nil {
			var f faultPayload
			if json.Unmarshal(p.Fault.Data, &f) == nil {
				u.event.Fault = strings.TrimSpace(f.Exception + ": " + f.Message)
			}
		}
		u.event.UserID = p.ActionUser
	case strings.HasPrefix(m.EventType, "compute.instance."):
		var p legacyPayload
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			return u, fmt.Errorf("%s: %w", m.EventType, err)
		}
		u.inst = storage.Instance{ID: p.InstanceID, ProjectID: p.TenantID, UserID: p.UserID, Name: p.DisplayName,
			Host: deref(p.Host), Node: deref(p.Node), State: p.State, TaskState: p.StateDesc, FlavorName: p.InstanceType,
			FlavorVCPUs: p.VCPUs, FlavorMemoryMB: p.MemoryMB, FlavorDiskGB: p.RootGB, ImageID: lastPathPart(p.ImageRef),
			CreatedAt: parseTime(&p.CreatedAt), LaunchedAt: parseTime(&p.LaunchedAt), DeletedAt: parseTime(&p.DeletedAt), IPs: []string{}}
		for _, ip := range p.FixedIPs {
			if ip.Address != "" {
				u.inst.IPs = append(u.inst.IPs, ip.Address)
			}
		}
		if strings.HasSuffix(m.EventType, ".error") {
			u.event.Fault = p.Message
		}
	default:
		return u, errIgnore
	}
	u.inst.UpdatedAt, u.inst.Source = m.Timestamp, "nova"
	u.inst.Deleted = u.inst.State == "deleted"
	if u.event.UserID == "" {
		u.event.UserID, _ = m.Context["user_id"].(string)
	}
	u.event.ProjectID, _ = m.Context["project_id"].(string)
	u.event.InstanceID = u.inst.ID
	u.event.ID = m.MessageID
	u.event.Time = m.Timestamp
	u.event.Source = "nova"
	u.event.Type = m.EventType
	u.event.RequestID = m.RequestID()
	u.globalRequestID, _ = m.Context["global_request_id"].(string)
	u.event.Host = u.inst.Host
	u.event.Detail = u.inst.State
	if u.inst.TaskState != "" {
		u.event.Detail += "/" + u.inst.TaskState
	}
	return u, nil
}

func lastPathPart(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}
