// Starting points for the three kinds of document: the sections each kind
// needs, as Markdown. Knows nothing of the page or the API.

export const TEMPLATES = {
  procedure: `## Purpose

What this procedure achieves, and when to use it.

## Scope

The systems, services and people it applies to.

## Before you start

- Access and tools needed
- Who to tell, and when

## Steps

1. First step.
2. Second step.
3. Check the result.

## If something goes wrong

How to roll back, and whom to call.

## Sources

Place the mail this comes from here (Citation → Place at cursor).
`,
  policy: `## Purpose

Why this policy exists.

## Scope

Who and what it covers.

## Policy

The rule, stated plainly: what must, must not and may be done.

## Exceptions

When the rule does not apply, and who may grant an exception.

## Responsibilities

Who owns the policy, who enforces it.

## Review

Next review date, and what prompts an earlier one.

## Sources

Place the decisions from the mail here (Citation → Place at cursor).
`,
  guideline: `## Summary

The advice in two sentences.

## When this applies

The situations it is for.

## Recommendations

- Do …
- Prefer …
- Avoid …

## Rationale

Why: what went wrong before, what worked.

## Examples

A short worked example.

## Sources

Place the mail behind this advice here (Citation → Place at cursor).
`,
};
