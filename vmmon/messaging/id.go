package messaging

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// NewUUID returns a random (version 4) UUID in its canonical form.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// NewMessage returns a notification with fresh ids and the current time, its
// payload encoded as JSON.
func NewMessage(publisherID, eventType, priority string, payload any) (*Message, error) {
	p, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("messaging: encoding payload of %s: %w", eventType, err)
	}
	return &Message{
		MessageID:   NewUUID(),
		UniqueID:    strings.ReplaceAll(NewUUID(), "-", ""),
		PublisherID: publisherID,
		EventType:   eventType,
		Priority:    priority,
		Timestamp:   time.Now().UTC(),
		Payload:     p,
		Context:     map[string]any{},
	}, nil
}
