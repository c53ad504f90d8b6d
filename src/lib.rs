//! gleaner: makes years of mailing-list mail searchable in milliseconds.
//!
//! Data flows down this list of modules; each uses only the ones above it.

#![warn(missing_docs)]

pub mod extract;
pub mod index;
pub mod query;
pub mod solr;
pub mod store;
