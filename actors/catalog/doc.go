// Package catalog holds every user-facing text of the bot in each supported
// locale (PRODUCT R2.11). Texts are looked up by Key and filled with named
// placeholders ("{name}"), so translations may reorder them.
//
// A Catalog is immutable after New and safe for concurrent use.
package catalog
