/**
 * ASP.NET-style route templates as the Functions host accepts them: literal segments,
 * `{name}`, `{name?}`, `{name:constraint}` and a trailing catch-all `{*name}`.
 */
export interface CompiledRoute {
  template: string;
  match(path: string): Record<string, string> | undefined;
}

const constraints: Record<string, RegExp> = {
  int: /^-?\d+$/,
  long: /^-?\d+$/,
  guid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  alpha: /^[a-z]+$/i,
  bool: /^(true|false)$/i,
};

export function compileRoute(template: string): CompiledRoute {
  const names: { name: string; constraint?: RegExp }[] = [];
  const segments = template.replace(/^\/+|\/+$/g, '').split('/');
  let pattern = '^';
  for (const segment of segments) {
    const param = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+)(?:\([^)]*\))?)?(\?)?\}$/.exec(segment);
    if (!param) {
      pattern += `/${segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
      continue;
    }
    const [, catchAll, name, constraint, optional] = param;
    names.push({ name: name!, constraint: constraint ? constraints[constraint] : undefined });
    if (catchAll) pattern += '(?:/(.*))?';
    else if (optional) pattern += '(?:/([^/]+))?';
    else pattern += '/([^/]+)';
  }
  const regex = new RegExp(`${pattern}/?$`, 'i');
  return {
    template,
    match(path) {
      const m = regex.exec(path);
      if (!m) return undefined;
      const params: Record<string, string> = {};
      for (let i = 0; i < names.length; i++) {
        const value = m[i + 1];
        if (value === undefined) continue;
        const decoded = decodeURIComponent(value);
        const { name, constraint } = names[i]!;
        if (constraint && !constraint.test(decoded)) return undefined;
        params[name] = decoded;
      }
      return params;
    },
  };
}
