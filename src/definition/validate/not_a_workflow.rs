//! Conductor files that are not workflow definitions (start requests, event handlers,
//! schedules, task definitions), named for what they are.

use super::Validator;

impl Validator<'_> {
    /// A Conductor file that is not a workflow definition (a start request, an event
    /// handler, a schedule, task definitions) is named for what it is, with one error.
    pub(super) fn not_a_workflow(&mut self) -> bool {
        let Some(found) = crate::definition::conductor::recognise(&self.src.value) else {
            return false;
        };
        self.error("", found.message, Some(found.hint));
        true
    }
}
