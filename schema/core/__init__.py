"""What every domain shares: context, guard and field decorators, inputs, payloads, errors."""
