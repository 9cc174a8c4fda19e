// Package workspace moves files through the volume the bot shares with the
// agents (PRODUCT R4): what users send is written under each agent's
// {workspace_path}/incoming/, and what agents send is read from inside their
// workspace only. It implements actors.Files.
//
// Concurrency: a *Files is safe for concurrent use; every method blocks on
// the disk and is called from the actors' tasks, never from Receive. Files
// are streamed, never held whole in memory.
package workspace
