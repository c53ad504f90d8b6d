//! The marks kept outside the index (`is:cited`, `cited:`, `is:archived`,
//! `is:held`) as one viewer's searches may use them, whichever surface asks
//! (the JSON API, the MCP server): citations of published documents only
//! below reviewers (who may read drafts), legal holds for admins only.
//! Knows nothing of any surface.

use std::sync::Arc;

use crate::access::Role;
use crate::curate::{Curation, PublishedMarks};
use crate::query::marks::{Combined, Mark};
use crate::query::Marks;
use crate::retention::Retention;

/// The marks a viewer of `role` may search by (`None`: no such database).
pub fn for_role(
    curation: Option<&Curation>,
    retention: Option<&Retention>,
    role: Role,
) -> Option<Arc<dyn Marks>> {
    let mut all: Vec<Arc<dyn Marks>> = Vec::new();
    if let Some(c) = curation {
        all.push(if role >= Role::Reviewer {
            Arc::new(c.clone())
        } else {
            Arc::new(PublishedMarks(c.clone()))
        });
    }
    if let Some(r) = retention {
        all.push(if role >= Role::Admin {
            Arc::new(r.clone())
        } else {
            Arc::new(WithoutHolds(r.clone()))
        });
    }
    (!all.is_empty()).then(|| Arc::new(Combined(all)) as Arc<dyn Marks>)
}

/// The archive marks as a non-admin may use them: `is:held` is refused
/// whether or not any hold exists (legal holds are for admins).
struct WithoutHolds(Retention);

impl Marks for WithoutHolds {
    fn is(&self, name: &str) -> Result<Option<Mark>, String> {
        if name == "held" {
            return Err("'is:held' is for admins".into());
        }
        Marks::is(&self.0, name)
    }

    fn cited(&self, doc: &str) -> Result<Option<Vec<String>>, String> {
        Marks::cited(&self.0, doc)
    }
}
