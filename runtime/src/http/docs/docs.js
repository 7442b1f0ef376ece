// Renders /api/openapi.json as a readable reference: operations grouped by tag, each
// with its method and path, summary, authentication, parameters, request body and
// responses. Served by the binary with the page; no outside script, no inline code
// (the API's Content-Security-Policy is `default-src 'self'`). Text from the document is
// only ever set as textContent, never parsed as HTML.
"use strict";

const METHODS = ["get", "post", "put", "patch", "delete", "head", "options"];
// How deep nested schemas are expanded before they are only named.
const MAX_DEPTH = 4;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// The little markdown the document uses: **bold** and `code` within a line of text.
function inline(tag, className, text) {
  const node = element(tag, className);
  for (const part of String(text || "").split(/(\*\*[^*]+\*\*|`[^`]+`)/)) {
    if (part.startsWith("**") && part.endsWith("**") && part.length > 4) {
      node.append(element("strong", null, part.slice(2, -2)));
    } else if (part.startsWith("`") && part.endsWith("`") && part.length > 2) {
      node.append(element("code", null, part.slice(1, -1)));
    } else {
      node.append(document.createTextNode(part));
    }
  }
  return node;
}

// Paragraphs (split on blank lines) of that markdown.
function prose(text) {
  const container = element("div", "prose");
  for (const paragraph of String(text || "").split(/\n\s*\n/)) {
    if (paragraph.trim()) container.append(inline("p", null, paragraph));
  }
  return container;
}

function resolve(spec, ref) {
  if (!ref.startsWith("#/")) return undefined;
  return ref.slice(2).split("/").reduce((node, key) => (node ? node[key.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined), spec);
}

function refName(ref) {
  return ref.split("/").pop();
}

// A one-line description of a schema's type: "string (date-time)", "array of Product",
// "Business | null".
function typeOf(spec, schema) {
  if (!schema) return "any";
  if (schema.$ref) return refName(schema.$ref);
  const variants = schema.oneOf || schema.anyOf;
  if (variants) return variants.map((variant) => typeOf(spec, variant)).join(" | ");
  if (schema.allOf) return schema.allOf.map((part) => typeOf(spec, part)).join(" & ");
  let type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type;
  if (!type) return schema.properties ? "object" : "any";
  if (type === "array" || (Array.isArray(schema.type) && schema.type.includes("array"))) {
    type = type.replace("array", "array of " + typeOf(spec, schema.items));
  }
  if (schema.format) type += " (" + schema.format + ")";
  if (schema.enum) type += ": " + schema.enum.map((value) => JSON.stringify(value)).join(", ");
  return type;
}

// The object schema a schema stands for, through $ref, nullable oneOf and arrays.
function objectBehind(spec, schema, seen) {
  for (let depth = 0; schema && depth < 8; depth += 1) {
    if (schema.$ref) {
      if (seen.has(schema.$ref)) return undefined;
      seen = new Set(seen).add(schema.$ref);
      schema = resolve(spec, schema.$ref);
    } else if (schema.properties || schema.additionalProperties) {
      return { schema, seen };
    } else if (schema.items) {
      schema = schema.items;
    } else if (schema.oneOf || schema.anyOf) {
      schema = (schema.oneOf || schema.anyOf).find((variant) => variant.$ref || variant.properties || variant.items);
    } else {
      return undefined;
    }
  }
  return undefined;
}

// A schema as a nested list of fields, with types, descriptions and whether each is
// required; unknown fields are flagged where the schema rejects them.
function renderSchema(spec, schema, depth = 0, seen = new Set()) {
  const container = element("div", "schema");
  const found = objectBehind(spec, schema, seen);
  if (!found) {
    container.append(element("span", "type", typeOf(spec, schema)));
    if (schema && schema.description) container.append(" ", inline("span", "note", schema.description));
    return container;
  }
  const object = found.schema;
  const list = element("ul");
  const required = new Set(object.required || []);
  for (const [name, property] of Object.entries(object.properties || {})) {
    const item = element("li");
    item.append(element("span", "field", name), ": ", element("span", "type", typeOf(spec, property)));
    if (required.has(name)) item.append(" ", element("span", "required", "required"));
    const described = property.description || (property.$ref && (resolve(spec, property.$ref) || {}).description);
    if (described) item.append(" — ", inline("span", "note", described));
    if (depth < MAX_DEPTH && objectBehind(spec, property, found.seen)) {
      item.append(renderSchema(spec, property, depth + 1, found.seen));
    }
    list.append(item);
  }
  const extra = object.additionalProperties;
  if (extra === false) {
    list.append(element("li", "note", "Unknown fields are rejected."));
  } else if (extra && typeof extra === "object") {
    const item = element("li");
    item.append(element("span", "field", "{name}"), ": ", element("span", "type", typeOf(spec, extra)));
    list.append(item);
  }
  container.append(list);
  return container;
}

function describeAuth(spec, operation) {
  const requirements = operation.security || spec.security || [];
  if (requirements.length === 0 || requirements.some((requirement) => Object.keys(requirement).length === 0)) {
    const signedIn = requirements.filter((requirement) => Object.keys(requirement).length > 0);
    return signedIn.length === 0 ? "Public: no authentication." : "Public; with " + schemeNames(spec, signedIn) + " when signed in.";
  }
  return "Needs " + schemeNames(spec, requirements);
}

function schemeNames(spec, requirements) {
  const schemes = (spec.components && spec.components.securitySchemes) || {};
  const label = (name) => {
    const scheme = schemes[name] || {};
    if (scheme.type === "http") return "Authorization: Bearer " + (scheme.bearerFormat || "token");
    if (scheme.type === "apiKey") return (scheme.in === "cookie" ? "cookie " : "header ") + scheme.name;
    return name;
  };
  // The cookie before the header it goes with.
  const cookieFirst = (name) => ((schemes[name] || {}).in === "cookie" ? 0 : 1);
  return requirements
    .map((requirement) => Object.keys(requirement).sort((a, b) => cookieFirst(a) - cookieFirst(b)).map(label).join(" + "))
    .join(", or ");
}

function renderParameters(spec, parameters) {
  const table = element("table");
  const head = element("tr");
  for (const title of ["Name", "In", "Type", "Description"]) head.append(element("th", null, title));
  table.append(head);
  for (let parameter of parameters) {
    if (parameter.$ref) parameter = resolve(spec, parameter.$ref) || {};
    const row = element("tr");
    const name = element("td");
    name.append(element("span", "field", parameter.name));
    if (parameter.required) name.append(" ", element("span", "required", "required"));
    row.append(name, element("td", null, parameter.in), element("td", "type", typeOf(spec, parameter.schema)));
    row.append(inline("td", null, parameter.description || ""));
    table.append(row);
  }
  return table;
}

function renderContent(spec, content) {
  const container = element("div");
  for (const [mediaType, media] of Object.entries(content || {})) {
    container.append(element("div", "note", mediaType));
    if (media.schema) container.append(renderSchema(spec, media.schema));
  }
  return container;
}

function renderResponses(spec, responses) {
  const table = element("table");
  const head = element("tr");
  for (const title of ["Status", "Meaning", "Body"]) head.append(element("th", null, title));
  table.append(head);
  const statuses = Object.keys(responses || {}).sort();
  for (const status of statuses) {
    let response = responses[status];
    if (response.$ref) response = resolve(spec, response.$ref) || {};
    const row = element("tr");
    row.append(element("td", "status", status));
    const meaning = element("td");
    meaning.append(prose(response.description));
    for (const [name, header] of Object.entries(response.headers || {})) {
      meaning.append(inline("div", "note", "Header `" + name + "`: " + (header.description || "")));
    }
    row.append(meaning);
    const body = element("td");
    for (const media of Object.values(response.content || {})) {
      if (media.schema) body.append(element("span", "type", typeOf(spec, media.schema)));
    }
    row.append(body);
    table.append(row);
  }
  return table;
}

function renderOperation(spec, method, path, operation) {
  const details = element("details", "operation");
  details.id = (operation.operationId || method + path).replace(/[^A-Za-z0-9_-]/g, "-");
  const summary = element("summary");
  summary.append(element("span", "method " + method, method), element("span", "path", path));
  summary.append(inline("span", "summary", operation.summary || ""));
  details.append(summary);
  const body = element("div", "body");
  if (operation.description) body.append(prose(operation.description));
  body.append(element("p", "auth", describeAuth(spec, operation)));
  if (operation.parameters && operation.parameters.length) {
    body.append(element("h4", null, "Parameters"), renderParameters(spec, operation.parameters));
  }
  if (operation.requestBody) {
    let requestBody = operation.requestBody;
    if (requestBody.$ref) requestBody = resolve(spec, requestBody.$ref) || {};
    body.append(element("h4", null, "Request body" + (requestBody.required ? "" : " (optional)")));
    if (requestBody.description) body.append(prose(requestBody.description));
    body.append(renderContent(spec, requestBody.content));
  }
  body.append(element("h4", null, "Responses"), renderResponses(spec, operation.responses));
  const success = Object.entries(operation.responses || {}).find(([status]) => status.startsWith("2"));
  if (success && success[1].content) {
    body.append(element("h4", null, "Success body (" + success[0] + ")"), renderContent(spec, success[1].content));
  }
  details.append(body);
  return details;
}

function render(spec) {
  document.title = spec.info.title + " reference";
  document.getElementById("title").textContent = spec.info.title + " " + spec.info.version;
  const main = document.getElementById("reference");
  const nav = document.getElementById("tags");
  main.replaceChildren();
  const intro = element("section", "intro");
  intro.append(element("p", "note", "OpenAPI " + spec.openapi));
  intro.append(prose(spec.info.description));
  main.append(intro);

  const byTag = new Map((spec.tags || []).map((tag) => [tag.name, []]));
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const tag = (operation.tags && operation.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([method, path, operation]);
    }
  }
  const tagInfo = new Map((spec.tags || []).map((tag) => [tag.name, tag]));
  for (const [tag, operations] of byTag) {
    if (operations.length === 0) continue;
    const section = element("section", "tag");
    section.id = "tag-" + tag;
    section.append(element("h2", null, tag));
    const info = tagInfo.get(tag);
    if (info && info.description) section.append(prose(info.description));
    for (const [method, path, operation] of operations) section.append(renderOperation(spec, method, path, operation));
    main.append(section);
    const link = element("a", null, tag + " (" + operations.length + ")");
    link.href = "#tag-" + tag;
    nav.append(link);
  }
  if (location.hash) {
    const target = document.getElementById(location.hash.slice(1));
    if (target) {
      if (target.tagName === "DETAILS") target.open = true;
      target.scrollIntoView();
    }
  }
}

fetch("/api/openapi.json", { credentials: "same-origin" })
  .then((response) => {
    if (!response.ok) throw new Error("GET /api/openapi.json answered " + response.status);
    return response.json();
  })
  .then(render)
  .catch((error) => {
    const status = document.getElementById("status");
    status.className = "error";
    status.textContent = "Could not load the API description: " + error.message;
  });
