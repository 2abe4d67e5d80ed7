-- Stand-ins for the parts of Kong 3.9.3 the nginx differential test needs,
-- written for this test (not Kong's code). nginx itself decides everything
-- else: header parsing with underscores_in_headers, ngx.req.get_headers,
-- $http_* variables, ngx.req.set_header/clear_header and proxy_set_header.
local M = {}

-- Kong's access.before sets $upstream_x_forwarded_for from the request
-- header table (kong/runloop/handler.lua:1340-1347, using
-- kong/tools/http.lua:545-565): the first value found under the key
-- "x_forwarded_for", followed by ", " and $realip_remote_addr; with no such
-- header, $remote_addr.
function M.access_before()
  local found = ngx.req.get_headers()["x_forwarded_for"]
  if type(found) == "table" then
    found = found[1]
  end
  if found == nil then
    ngx.var.upstream_x_forwarded_for = ngx.var.remote_addr
    return
  end
  ngx.var.upstream_x_forwarded_for = found .. ", " .. ngx.var.realip_remote_addr
end

-- kong.request.get_header(name) (kong/pdk/request.lua:629 ->
-- kong/tools/http.lua:555-564): nginx's $http_ variable for the name with
-- dashes as underscores; when that joined value holds ", ", the first value
-- of the request header table under name instead.
local function request_header(name)
  local var_name = "http_" .. string.gsub(name, "-", "_")
  local joined = ngx.var[var_name]
  if joined == nil or not string.find(joined, ", ", 1, true) then
    return joined
  end
  local v = ngx.req.get_headers()[name]
  if type(v) == "table" then
    return v[1]
  end
  return v
end

-- add_header is kong.service.request.add_header (kong/pdk/service/
-- request.lua:351-368): the values the request header table holds under
-- name, plus value, set under name.
local function add_header(name, value)
  local old = ngx.req.get_headers()[name]
  local values = {}
  if type(old) == "table" then
    for i = 1, #old do
      values[i] = old[i]
    end
  elseif old ~= nil then
    values[1] = old
  end
  values[#values + 1] = value
  ngx.req.set_header(name, values)
end

-- run plays a plugin's script of PDK calls, read from a request header, in
-- the subset pdkprobe understands: sreqclear:Name, sreqset:Name=value,
-- sreqadd:Name=value (kong.service.request.clear_header/set_header are
-- ngx.req.clear_header and ngx.req.set_header:
-- kong/pdk/service/request.lua:334, 390) and probehdr:Name
-- (kong.request.get_header into X-Probe-Name).
function M.run(script_header)
  local script = ngx.var["http_" .. script_header]
  if script == nil or script == "" then
    return
  end
  for op in string.gmatch(script, "[^;]+") do
    local name, arg = string.match(op, "^([^:]+):?(.*)$")
    local k, v = string.match(arg, "^([^=]*)=(.*)$")
    if name == "sreqclear" then
      ngx.req.clear_header(arg)
    elseif name == "sreqset" then
      ngx.req.set_header(k, v)
    elseif name == "sreqadd" then
      add_header(k, v)
    elseif name == "probehdr" then
      local got = request_header(arg)
      if got == nil or got == "" then
        got = "(none)"
      end
      ngx.req.set_header("X-Probe-" .. arg, got)
    else
      ngx.log(ngx.ERR, "standin: unknown op ", op)
      return ngx.exit(500)
    end
  end
end

return M
