/** The B1 payload: a JSON object of about 100 bytes. */
export const PAYLOAD = {
  id: 4242,
  user: 'user-004242',
  items: [1, 2, 3, 5, 8, 13],
  note: 'lorem ipsum dolor sit amet',
  ok: true,
};
