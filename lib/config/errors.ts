/** A missing or malformed app setting; `setting` names it so the fix is obvious. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly setting: string,
    detail: string,
  ) {
    super(`App setting ${setting} is missing or invalid: ${detail}`);
    this.name = 'ConfigError';
  }
}
