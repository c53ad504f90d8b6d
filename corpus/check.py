#!/usr/bin/env python3
"""Validate a corpus written by generate.py (maildir, mbox or public-inbox).

    python3 corpus/check.py corpus/sample [--quiet]

Parses every message with Python's email package (policy=default) and checks:
  * every defect found is explained by the message's X-Corpus-Defect header,
    and every message carrying such a header shows the announced defect;
  * In-Reply-To/References point at messages of the same list, and the last
    References entry equals In-Reply-To;
  * mbox files are in date order.
Prints per-list counts, a digest of the message bytes per list (identical
across output formats for the same --seed/--messages), and feature coverage.
Exits 1 on any unexpected finding.
"""

import collections
import email
import email.policy
import email.utils
import hashlib
import os
import re
import subprocess
import sys

SEP = re.compile(rb"^From \S+ +\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$")


def read_maildir(path):
    files = []
    for sub in ("cur", "new"):
        d = os.path.join(path, sub)
        for name in os.listdir(d):
            files.append((int(name.split(".")[1]), os.path.join(d, name)))
    files.sort()
    for _n, p in files:
        with open(p, "rb") as f:
            yield f.read(), None


def read_mbox(path):
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    cur = None
    sep = None
    prev_blank = True
    for ln in lines:
        if prev_blank and ln.startswith(b"From ") and SEP.match(ln):
            if cur is not None:
                yield finish(cur), sep
            cur = []
            sep = ln
        else:
            if ln.startswith(b">") and ln.lstrip(b">").startswith(b"From "):
                ln = ln[1:]
            cur.append(ln)
        prev_blank = (ln == b"")
    if cur is not None:
        if cur and cur[-1] == b"":
            cur.pop()  # artefact of the final newline
        yield finish(cur), sep


def finish(lines):
    # drop exactly the one empty line that separates messages
    if lines and lines[-1] == b"":
        lines.pop()
    return b"\n".join(lines) + b"\n"


def read_public_inbox(path):
    gitdir = os.path.join(path, "git")
    epochs = sorted((int(e.split(".")[0]), e) for e in os.listdir(gitdir) if e.endswith(".git"))
    for _n, e in epochs:
        repo = os.path.join(gitdir, e)
        revs = subprocess.run(["git", "-C", repo, "rev-list", "--reverse", "master"],
                              check=True, capture_output=True).stdout.split()
        inp = b"".join(r + b":m\n" for r in revs)
        out = subprocess.run(["git", "-C", repo, "cat-file", "--batch"], input=inp,
                             check=True, capture_output=True).stdout
        pos = 0
        while pos < len(out):
            nl = out.index(b"\n", pos)
            _sha, _typ, size = out[pos:nl].split()
            size = int(size)
            yield out[nl + 1:nl + 1 + size], None
            pos = nl + 1 + size + 1


def discover(root):
    for name in sorted(os.listdir(root)):
        p = os.path.join(root, name)
        if name.endswith(".mbox"):
            yield name[:-5], "mbox", read_mbox(p)
        elif os.path.isdir(os.path.join(p, "cur")):
            yield name, "maildir", read_maildir(p)
        elif os.path.isdir(os.path.join(p, "git")):
            yield name, "public-inbox", read_public_inbox(p)


def script_lang(text):
    n = collections.Counter()
    for ch in text[:3000]:
        o = ord(ch)
        if 0x3040 <= o <= 0x30ff:
            n["ja"] += 1
        elif 0x4e00 <= o <= 0x9fff:
            n["han"] += 1
        elif 0x0400 <= o <= 0x04ff:
            n["ru"] += 1
        elif ch in "äöüßÄÖÜ":
            n["de"] += 1
        elif ch in "éèêçàùâîôœ":
            n["fr"] += 1
        elif ch in "ñáíóú¿¡":
            n["es"] += 1
    if n["ja"] > 5:
        return "ja"
    if n["han"] > 5:
        return "zh"
    if n["ru"] > 10:
        return "ru"
    best = max(("de", "fr", "es"), key=lambda k: n[k])
    return best if n[best] >= 2 else "en"


def analyse(raw, msg, cov):
    """Return the set of problems found in one message."""
    probs = set()
    if b"\x00" in raw:
        probs.add("nul-bytes")
    head = raw.split(b"\n\n", 1)[0]
    if any(len(l) > 998 for l in raw.split(b"\n")):
        probs.add("long-header-line")
    if not head.isascii():
        probs.add("undeclared-8bit")
    for d in msg.defects:
        probs.add("defect:" + type(d).__name__)
    for k, v in msg.items():
        for d in getattr(v, "defects", ()):
            probs.add("hdefect:%s:%s" % (k, type(d).__name__))
    if msg["Message-ID"] is None:
        probs.add("missing-message-id")
    dh = msg["Date"]
    if dh is None:
        probs.add("no-date")
    elif getattr(dh, "datetime", None) is None:
        probs.add("unparseable-date")
    leaves = 0
    for part in msg.walk():
        for d in part.defects:
            probs.add("defect:" + type(d).__name__)
            if type(d).__name__ in ("CloseBoundaryNotFoundDefect", "StartBoundaryNotFoundDefect"):
                probs.add("truncated-mime")
        if part.is_multipart():
            cov["ct:" + part.get_content_type()] += 1
            continue
        leaves += 1
        ct = part.get_content_type()
        cov["ct:" + ct] += 1
        cte = (part.get("Content-Transfer-Encoding") or "7bit").lower()
        cov["cte:" + cte] += 1
        payload = part.get_payload(decode=False)
        if isinstance(payload, str) and cte in ("7bit", "8bit") and not payload.isascii():
            if cte == "7bit" or part.get_param("charset") is None:
                probs.add("undeclared-8bit")
        if part.get_content_maintype() == "text":
            cs = (part.get_param("charset") or "none").lower()
            cov["charset:" + cs] += 1
            try:
                text = part.get_content()
            except Exception as e:  # noqa
                probs.add("content-error:%s" % type(e).__name__)
                continue
            if ct == "text/plain" and part.get_filename() is None:
                cov["lang:" + script_lang(text)] += 1
        else:
            try:
                part.get_content()
            except Exception as e:  # noqa
                probs.add("content-error:%s" % type(e).__name__)
    if msg.get_content_type() == "text/html":
        cov["html-only"] += 1
    if b"=?" in head:
        cov["rfc2047-headers"] += 1
    subj = str(msg.get("Subject", ""))
    m = re.match(r"((?:\[\w+\] )?(?:Re|RE|AW|SV|Fwd): )", subj)
    if m:
        cov["prefix:" + m.group(1).split()[-1]] += 1
    return probs


# which problems each announced defect may cause
ALLOWED = {
    "missing-message-id": {"missing-message-id"},
    "duplicate-message-id": {"duplicate-message-id"},
    "unparseable-date": {"unparseable-date", "hdefect:Date:InvalidDateDefect"},
    "no-date": {"no-date"},
    "undeclared-8bit": {"undeclared-8bit", "hdefect:From:UndecodableBytesDefect",
                        "hdefect:Subject:UndecodableBytesDefect",
                        "hdefect:From:InvalidHeaderDefect"},
    "truncated-mime": {"truncated-mime", "defect:CloseBoundaryNotFoundDefect",
                       "defect:StartBoundaryNotFoundDefect", "defect:MultipartInvariantViolationDefect",
                       "content-error:binascii.Error", "content-error:Error"},
    "nul-bytes": {"nul-bytes"},
    "long-header-line": {"long-header-line"},
}


def main():
    root = sys.argv[1]
    quiet = "--quiet" in sys.argv
    cov = collections.Counter()
    bad = 0
    total = 0
    defects_seen = collections.Counter()
    print("%-10s %-13s %9s %12s  %s" % ("list", "format", "messages", "bytes", "sha256(messages)[:16]"))
    for lname, fmt, it in discover(root):
        ids = collections.Counter()
        msgs = []
        h = hashlib.sha256()
        nbytes = 0
        last_sep_time = None
        for raw, sep in it:
            h.update(raw)
            nbytes += len(raw)
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            probs = analyse(raw, msg, cov)
            mid = msg["Message-ID"]
            mid = str(mid).strip() if mid is not None else None
            if mid:
                ids[mid] += 1
            kind = str(msg.get("X-Corpus-Defect", "")).strip() or None
            irt = msg["In-Reply-To"]
            refs = str(msg.get("References", "")).split()
            msgs.append((mid, str(irt).strip() if irt else None, refs, kind, probs))
            if sep is not None:
                t = email.utils.mktime_tz(email.utils.parsedate_tz(sep.split(None, 2)[2].decode()))
                if last_sep_time is not None and t < last_sep_time:
                    print("%s: mbox not in date order at %s" % (lname, sep))
                    bad += 1
                last_sep_time = t
        # duplicate ids & reference consistency
        dups = {m for m, c in ids.items() if c > 1}
        # Replies to a message whose Message-ID was dropped or replaced by a
        # duplicate (intentional defects) point at an id that never appears,
        # like a message lost from a real archive.  Allow one lost id each.
        lost_budget = sum(1 for m in msgs if m[3] in ("missing-message-id", "duplicate-message-id"))
        dangling = set()
        for mid, irt, refs, kind, probs in msgs:
            if kind != "long-header-line":
                dangling.update(r for r in refs + ([irt] if irt else []) if r not in ids)
        lost_ok = len(dangling) <= lost_budget
        if not lost_ok:
            print("%s: %d dangling ids but only %d messages lost their id" % (lname, len(dangling), lost_budget))
        for mid, irt, refs, kind, probs in msgs:
            if mid in dups:
                probs.add("duplicate-message-id")
            if irt:
                if refs and refs[-1] != irt and kind != "long-header-line":
                    probs.add("refs-last-mismatch")
                if irt not in ids:
                    probs.add("dangling-in-reply-to")
                if kind != "long-header-line" and any(r not in ids for r in refs):
                    probs.add("dangling-reference")
            elif refs:
                probs.add("references-without-in-reply-to")
        for mid, irt, refs, kind, probs in msgs:
            total += 1
            if kind:
                defects_seen[kind] += 1
            allowed = set(ALLOWED.get(kind, ()))
            if mid in dups:
                allowed.add("duplicate-message-id")   # the original shares the id
            if lost_ok:
                allowed |= {"dangling-in-reply-to", "dangling-reference"}
            unexpected = probs - allowed
            if kind and kind not in probs and kind != "duplicate-message-id":
                unexpected.add("announced-%s-not-found" % kind)
            if kind == "duplicate-message-id" and "duplicate-message-id" not in probs:
                unexpected.add("announced-duplicate-not-found")
            if unexpected:
                bad += 1
                if bad <= 30:
                    print("UNEXPECTED %s %s kind=%s: %s" % (lname, mid, kind, sorted(unexpected)))
        print("%-10s %-13s %9d %12d  %s" % (lname, fmt, len(msgs), nbytes, h.hexdigest()[:16]))
    print("total messages: %d, unexpected findings: %d" % (total, bad))
    print("intentional defects: " + ", ".join("%s=%d" % kv for kv in sorted(defects_seen.items())))
    if not quiet:
        for k in sorted(cov):
            print("  %-40s %d" % (k, cov[k]))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
