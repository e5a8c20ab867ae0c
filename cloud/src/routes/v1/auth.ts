/** `POST /v1/auth/login`: a person's name and password for a 12-hour login token. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { loginRateLimit } from '../../plugins/rate-limit.js';
import { login } from '../../users/users.js';
import { LoginReply, LoginRequest, errorResponses } from './schemas.js';

const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/auth/login',
    {
      config: { rateLimit: loginRateLimit },
      schema: {
        tags: ['auth'],
        summary: 'Log in: a bearer token for the read API, valid 12 hours',
        body: LoginRequest,
        response: { 200: LoginReply, ...errorResponses(400, 401, 413, 415, 429) },
      },
    },
    async (request) => login(app.stewardDb, request.body.name, request.body.password),
  );
};

export default fp(authRoutes, { name: 'steward-routes-auth', fastify: '5.x', encapsulate: true, dependencies: ['steward-db'] });
