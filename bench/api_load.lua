-- wrk script: GET /api/search with the gleaner queries of bench/queries.tsv, in turn.
local queries = {}
local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
for line in io.lines(os.getenv("QUERIES") or "bench/queries.tsv") do
  if not line:match("^#") and line ~= "" then
    local name, q = line:match("^([^\t]*)\t([^\t]*)")
    if name and name ~= "name" and q and q ~= "" then
      table.insert(queries, "/api/search?limit=20&q=" .. urlencode(q))
    end
  end
end
local i = 0
request = function()
  i = i % #queries + 1
  return wrk.format("GET", queries[i])
end
response = function(status, headers, body)
  if status ~= 200 then
    io.stderr:write("status " .. status .. "\n")
  end
end
