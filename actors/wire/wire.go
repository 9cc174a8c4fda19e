package wire

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"

	"github.com/asynkron/protoactor-go/remote"
)

var (
	mu    sync.RWMutex
	types = map[string]reflect.Type{}
	names = map[reflect.Type]string{}
)

// Register names the message type of example (a pointer to a struct) on
// the wire. Every member must register the same names; registering a name
// or a type twice panics, as a programming error at init.
func Register(name string, example remote.RootSerializable) {
	t := reflect.TypeOf(example)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("wire: %s must be a pointer to a struct, not %s", name, t))
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := types[name]; dup {
		panic(fmt.Sprintf("wire: %s registered twice", name))
	}
	if _, dup := names[t]; dup {
		panic(fmt.Sprintf("wire: %s registered twice", t))
	}
	types[name], names[t] = t.Elem(), name
}

// Encode returns msg's Envelope; msg's type must be registered.
func Encode(msg remote.RootSerializable) (remote.RootSerialized, error) {
	mu.RLock()
	name, ok := names[reflect.TypeOf(msg)]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("wire: %T is not registered", msg)
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("failed to encode %s: %w", name, err)
	}
	return &Envelope{Type: name, Body: body}, nil
}

// Deserialize implements remote.RootSerialized: the message the envelope
// carries, as its registered type.
func (e *Envelope) Deserialize() (remote.RootSerializable, error) {
	mu.RLock()
	t, ok := types[e.GetType()]
	mu.RUnlock()
	if !ok {
		// A member running another version sent a message this one does
		// not know: say which, rather than drop it silently.
		return nil, fmt.Errorf("wire: unknown message type %q", e.GetType())
	}
	v := reflect.New(t)
	if err := json.Unmarshal(e.GetBody(), v.Interface()); err != nil {
		return nil, fmt.Errorf("failed to decode %s: %w", e.GetType(), err)
	}
	msg, ok := v.Interface().(remote.RootSerializable)
	if !ok {
		return nil, fmt.Errorf("wire: %s is not serializable", e.GetType())
	}
	return msg, nil
}
