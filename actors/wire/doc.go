// Package wire carries the bot's actor messages between the members of a
// cluster (issue 24).
//
// protoactor-go's remote serializes what crosses members with protobuf
// (remote/endpoint_writer.go at the pinned commit always uses its protobuf
// serializer), and a message may stand in for itself on the wire by
// implementing remote.RootSerializable. The bot's messages are Go structs
// with a JSON form already (the records are stored as JSON), so one
// protobuf message, Envelope, carries any of them: the name it was
// registered under and its JSON. A message type that crosses members
// registers itself (Register) and implements Serialize with Encode; the
// receiving member's remote turns the Envelope back into that type
// (Envelope.Deserialize) before the actor sees it. A message sent to an
// actor on the same member is never encoded.
//
// Concurrency: Register is meant for package init; Encode and Deserialize
// are safe for concurrent use.
package wire
