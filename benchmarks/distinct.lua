-- wrk script for hello's "distinct" mode: every request has its own target
-- ("/?1", "/?2", ...), so no two request heads on a connection are alike and
-- no server can reuse an earlier parse (trio_webkit's HeadCache). Keep-alive.
counter = 0

request = function()
  counter = counter + 1
  return wrk.format(nil, "/?" .. counter)
end
