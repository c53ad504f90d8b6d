"""Appends (optionally) and fetches ENVELOPE, BODYSTRUCTURE and BODY[] of
every message of a mailbox through imaplib; prints JSON: a list of
{"body": latin-1 text, "envelope": raw item, "bodystructure": raw item,
"sections": the raw answer to a FETCH of several BODY[section]s}.

usage: fetch_answers.py PORT USER PASS MAILBOX [FILES...]
With FILES, each is APPENDed (CRLF line ends) to MAILBOX first.
"""
import imaplib, json, sys

port, user, pw, mailbox = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
M = imaplib.IMAP4('127.0.0.1', port)
M.login(user, pw)
for f in sys.argv[5:]:
    data = open(f, 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    typ, _ = M.append(mailbox, None, None, data)
    assert typ == 'OK', typ

def raw(data):
    """The untagged FETCH answer as the server wrote it (literals inline)."""
    out = b''
    for d in data:
        if isinstance(d, tuple):
            out += d[0] + b'\r\n' + d[1]
        elif d is not None:
            out += d
    return out.decode('latin-1')

def item(text, name):
    i = text.index(name + ' ')
    rest = text[i + len(name) + 1:]
    depth, j, n = 0, 0, len(rest)
    while j < n:
        c = rest[j]
        if c == '"':
            j += 1
            while rest[j] != '"':
                j += 2 if rest[j] == '\\' else 1
        elif c == '{':
            k = rest.index('}', j)
            size = int(rest[j + 1:k])
            j = k + 3 + size - 1
        elif c == '(':
            depth += 1
        elif c == ')':
            depth -= 1
            if depth == 0:
                return rest[:j + 1]
        j += 1
    return rest

typ, dat = M.select(mailbox, readonly=True)
n = int(dat[0])
out = []
for i in range(1, n + 1):
    typ, d = M.fetch(str(i), '(BODY.PEEK[])')
    body = d[0][1].decode('latin-1')
    typ, d = M.fetch(str(i), '(ENVELOPE)')
    env = item(raw(d), 'ENVELOPE')
    typ, d = M.fetch(str(i), '(BODYSTRUCTURE)')
    bs = item(raw(d), 'BODYSTRUCTURE')
    typ, d = M.fetch(str(i), '(BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2] BODY.PEEK[TEXT] BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)] BODY.PEEK[1]<2.5>)')
    text = raw(d)
    sections = text[text.index('(') + 1:]
    out.append({'body': body, 'envelope': env, 'bodystructure': bs, 'sections': sections})
M.logout()
print(json.dumps(out))
