import { SettingsSchema } from '../../lib/config/settings.js';
import { limitsFrom } from '../../lib/ingest/limits.js';

/** The ingest limits with every setting at its default: defined once, in the settings schema. */
export const defaultLimits = limitsFrom(SettingsSchema.parse({}));
